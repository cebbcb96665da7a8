"""The QA benchmark: questions with known facts from the reports, runners, metrics and reports."""
