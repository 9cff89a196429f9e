from shared.serve import main

main("claims")
