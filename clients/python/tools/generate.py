"""Generates the message classes and gRPC stubs under src/labelport/v1 from proto/ (the same
contracts buf lints and generates TypeScript from). Run: python tools/generate.py [OUT_DIR]

The proto package labelport.v1 becomes the Python package labelport.v1, so the generated
`from labelport.v1 import ...` imports resolve inside this distribution without rewriting.
"""

import sys
from pathlib import Path

from grpc_tools import protoc

HERE = Path(__file__).resolve().parent
PROTO_ROOT = HERE.parent.parent.parent / "proto"
DEFAULT_OUT = HERE.parent / "src"


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT
    out.mkdir(parents=True, exist_ok=True)
    files = sorted(str(p.relative_to(PROTO_ROOT)) for p in (PROTO_ROOT / "labelport" / "v1").glob("*.proto"))
    # grpc_tools bundles the well-known types (struct, timestamp); its include dir resolves them.
    well_known = str(Path(protoc.__file__).parent / "_proto")
    args = ["protoc", f"-I{PROTO_ROOT}", f"-I{well_known}", f"--python_out={out}", f"--pyi_out={out}",
            f"--grpc_python_out={out}", *files]
    return protoc.main(args)


if __name__ == "__main__":
    sys.exit(main())
