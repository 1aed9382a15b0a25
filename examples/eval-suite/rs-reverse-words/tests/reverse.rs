use reverse_words::reverse_words;

#[test]
fn words_not_letters() {
    assert_eq!(reverse_words("one two three"), "three two one");
}

#[test]
fn extra_spaces_collapse() {
    assert_eq!(reverse_words("  a   b "), "b a");
}
