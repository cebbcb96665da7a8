"""The Streamlit app's pages and helpers (app.py at the repository root starts them)."""
