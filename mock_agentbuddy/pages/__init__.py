"""`/ui/`: the pages an AgentBuddy user would see of Broadcast's data (`views`, templates in
`templates/ui/`), for demos and browser tests. Read-only; they show what the fake received,
never anything computed here.

May import: `..state`, `common.score_chart`, `contract.categories`. Nothing else of the fake.
"""
