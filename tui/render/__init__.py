"""Pure rendering of untrusted text into Rich ``Text`` (no Textual widgets here): the
Markdown block renderer the chat streams through, and the terminal-safe text helpers."""
