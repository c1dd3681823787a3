from monitor.cli import main

# Guarded: worker processes (forkserver) import this module without running the CLI.
if __name__ == "__main__":
    raise SystemExit(main())
