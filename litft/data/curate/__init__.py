"""Stage 4 of the data layer: filter instruction records and split them into train and test by source chunk."""
