"""The Koster Seafloor Observatory's sites, movies and species CSVs, in."""
