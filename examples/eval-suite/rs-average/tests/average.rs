use average::average;

#[test]
fn fractional_mean() {
    assert_eq!(average(&[1, 2]), Some(1.5));
}

#[test]
fn empty_is_none() {
    assert_eq!(average(&[]), None);
}
