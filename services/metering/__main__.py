from shared.serve import main

main("metering")
