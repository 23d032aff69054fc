"""Reports: engines compared on a test set (``compare``: tunes, runners, scores;
``compare_report``: report.md, tunes.csv, figures), one tune compared across engines
(``one_tune``, the TUI's compare view) and a MIDI -> ABC -> MIDI round trip (``round_trip``)."""
