#!/usr/bin/env bash
# Extract the interface's messages and merge them into every .po catalogue.
#
# Run it after adding or changing a message in crm_web or ui, then translate
# the entries it added (empty msgstr) or marked "fuzzy" (a guess from a
# similar old message: check it and delete the fuzzy flag).
# tests/test_translations.py fails until every message is translated.
#
# To add a language:
#   .venv/bin/pybabel init -i POT -d crm_web/translations -l zh_Hant_TW
# with POT from "pybabel extract" as below, then add it to crm_web/i18n.py.
set -euo pipefail

cd "$(dirname "$0")/.."
pybabel=${PYBABEL:-.venv/bin/pybabel}
python=${PYTHON:-.venv/bin/python}

# babel.cfg names the lazy_gettext keywords per section, which Babel reads
# only from 2.18 on. Older versions would silently drop those messages.
if ! "$python" -c 'import sys, babel
sys.exit(tuple(map(int, babel.__version__.split(".")[:2])) < (2, 18))'; then
    echo "Babel 2.18 or newer is needed to read babel.cfg; upgrade it with" \
         "$python -m pip install 'Babel>=2.18'." >&2
    exit 1
fi

pot=$(mktemp --suffix=.pot)
trap 'rm -f "$pot"' EXIT

# File names without line numbers tell translators where a message is used,
# without rewriting the .po whenever a line moves.
"$pybabel" --quiet extract -F babel.cfg --add-location=file --sort-output \
    --project="R9 CRM" -o "$pot" .
"$pybabel" --quiet update -i "$pot" -d crm_web/translations \
    --ignore-obsolete --ignore-pot-creation-date --previous
