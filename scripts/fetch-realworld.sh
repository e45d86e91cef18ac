#!/usr/bin/env bash
# Unpacks the Python sources of eight open-source web applications from PyPI into
# target/realworld/<name>/ (pinned versions; wheels cached in target/realworld/.wheels), for
#   BENCH_TREES=$(ls -d target/realworld/*/ | paste -sd:) cargo bench --bench scan
# Needs pip and network access to PyPI; nothing here is run by CI or the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/realworld
mkdir -p "$out/.wheels"
packages=(
  apache-airflow-core==3.3.2
  apache-superset==6.1.0
  chainlit==2.12.0
  langflow-base==1.13.0
  litellm==1.109.1
  mlflow==3.18.0
  open-webui==0.12.4
  prefect==3.9.1
)
python3 -m pip download --quiet --no-deps --only-binary :all: --dest "$out/.wheels" "${packages[@]}"
for package in "${packages[@]}"; do
  name=${package%%==*}
  version=${package##*==}
  wheel=$(ls "$out/.wheels/${name//-/_}-$version-"*.whl)
  rm -rf "${out:?}/$name"
  mkdir -p "$out/$name"
  # Only the Python sources: the bundled front-end assets are not what is measured.
  python3 - "$wheel" "$out/$name" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel:
    for member in wheel.namelist():
        if member.endswith(".py") and ".dist-info/" not in member:
            wheel.extract(member, sys.argv[2])
PY
  echo "$name $version: $(find "$out/$name" -name '*.py' | wc -l) files"
done
