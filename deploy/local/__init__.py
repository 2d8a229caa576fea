"""How the mall starts on one machine: `make run` and the end-to-end tests share this launcher."""
