"""The commands beyond window, train and inspect (forecast, scoring), and what every
command shares: option types, output checks, notes and tables."""
