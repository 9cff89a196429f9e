"""Attack tests: hostile bank and readings files, bank references reused or forged, commands retried."""
