"""CSV files read into the series store: header and cells, time and id columns, the store, calendar
features, scaling."""
