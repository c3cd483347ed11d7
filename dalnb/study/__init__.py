"""The study's results, one module per question: each reads its measurements and gives a table, a figure and
the claims."""
