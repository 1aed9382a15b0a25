/// The mean of `values`, or None for an empty slice.
pub fn average(values: &[i64]) -> Option<f64> {
    let total: i64 = values.iter().sum();
    Some((total / values.len() as i64) as f64)
}
