from abcmidi_bgpt.cli.app import main

main()
