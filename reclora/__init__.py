"""RecLoRA: personalized low-rank adaptation for LLM recommenders (SPEC 5).

Not implemented yet; tracked by its own issue. Importing this package registers nothing.
"""
