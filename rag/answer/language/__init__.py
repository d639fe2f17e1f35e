"""What a question asks for and what a sentence holds: answer types (`question`), names and
places (`entities`), who did an act (`agency`), whether a sentence holds an answer of the asked
type (`answer_match`) and what a question pins down (`specifics`). Pure and offline."""
