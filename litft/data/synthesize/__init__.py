"""Stage 3 of the data layer: question/answer records from chunks (an LLM, Self-Instruct, or the offline heuristic)."""
