"""The household registry (户): roster, import and export, and each household's points account."""
