"""The `loopspec` console script of the pip package: runs the harness's
`loopspec` script (beside this package) with the command line."""

import importlib.machinery
import importlib.util
import os
import signal
import sys


def _terminate(signum, frame):
    raise KeyboardInterrupt


def main(argv=None):
    """Entry point: the exit status of `loopspec ARGS`."""
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "loopspec")
    loader = importlib.machinery.SourceFileLoader("loopspec_cli", path)
    spec = importlib.util.spec_from_loader("loopspec_cli", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return module.main(sys.argv[1:] if argv is None else list(argv))
    except BrokenPipeError:
        sys.stderr.close()
        return 1


if __name__ == "__main__":
    sys.exit(main())
