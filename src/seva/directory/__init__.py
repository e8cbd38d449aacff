"""Where citizens can go in person: offices and CSCs with coordinates, found by pincode."""
