"""Sample datasets: a synthetic retailer and the bundled CDNOW data."""
