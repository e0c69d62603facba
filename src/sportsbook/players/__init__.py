"""Players and staff: accounts, password login, bearer sessions and roles."""
