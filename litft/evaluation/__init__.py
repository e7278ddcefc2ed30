"""The verdict: litft evaluate (ROUGE, answers.csv, report.json), the 0-3 human review table and the LLM judge."""
