"""Loading landed pushes into the warehouse (dlt) and orchestrating every stage (Dagster)."""
