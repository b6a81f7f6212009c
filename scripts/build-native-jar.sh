#!/usr/bin/env bash
# Rebuild runtime/spark/native/mldp-native.jar (and its provenance) from runtime/spark/native/src, compiled with
# javac --release 17 against the PySpark jars of the venv (the Spark the runtime pins: Glue 5.0 is Spark 3.5).
# Usage (from the repository root): scripts/build-native-jar.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
native="$root/runtime/spark/native"
jars="$("$root/.venv/bin/python" -c 'import pyspark, os; print(os.path.join(os.path.dirname(pyspark.__file__), "jars"))')"
build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
javac --release 17 -nowarn -cp "$jars/*" -d "$build" $(find "$native/src" -name '*.java' | sort)
(cd "$build" && find . -name '*.class' -exec touch -d '1980-01-01T00:00:00Z' {} + && jar --create --date 1980-01-01T00:00:02Z --file "$native/mldp-native.jar" --no-manifest $(find . -name '*.class' | sort))
"$root/.venv/bin/python" - "$native" "$jars" <<'PY'
import hashlib, json, pathlib, subprocess, sys
native, jars = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
sources = sorted(native.joinpath("src").rglob("*.java"))
digest = hashlib.sha256()
for path in sources:
    digest.update(path.relative_to(native).as_posix().encode() + b"\0" + path.read_bytes())
javac = subprocess.run(["javac", "-version"], capture_output=True, text=True, check=True)
spark = sorted(p.name for p in jars.glob("spark-catalyst_*.jar"))
provenance = {
    "sources_sha256": digest.hexdigest(),
    "jar_sha256": hashlib.sha256(native.joinpath("mldp-native.jar").read_bytes()).hexdigest(),
    "compiled_against": spark,
    "javac": (javac.stdout or javac.stderr).strip(),
    "release": 17,
}
native.joinpath("mldp-native.provenance.json").write_text(json.dumps(provenance, indent=2) + "\n")
print(json.dumps(provenance, indent=2))
PY
