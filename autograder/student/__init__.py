"""What course notebooks import: public checks and the static import audit."""
