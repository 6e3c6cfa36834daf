//! Explanations in words: why a symbol has its value, and what a requested value needs.
