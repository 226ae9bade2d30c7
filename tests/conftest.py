import sys
from pathlib import Path

# tests/fixtures.py (fixture writers in each dataset's real format) is importable as `fixtures`
sys.path.insert(0, str(Path(__file__).resolve().parent))
