from lstmcli.cli import main

main()
