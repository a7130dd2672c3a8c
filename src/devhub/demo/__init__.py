"""The Acme Payments demo catalog that `devhub demo` imports.

`data/` is a Backstage-format catalog of a fictional fintech: its org chart, domains,
systems, components, resources and APIs (with real public example definitions under
`data/apis/`). `ROOT_CATALOG` is the `kind: Location` file to import.
"""

from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"
ROOT_CATALOG = DATA_DIR / "catalog-info.yaml"
