#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;

#[test]
fn distances_match_known_city_pairs() {
    let c = |lat, lon| Coordinates::new(lat, lon).unwrap();
    let cases = [
        // (from, to, km, tolerance)
        (c(51.5074, -0.1278), c(48.8566, 2.3522), 343.6, 2.0), // London - Paris
        (c(40.7128, -74.0060), c(51.5074, -0.1278), 5570.2, 10.0), // New York - London
        (c(1.35, 103.82), c(1.35, 103.82), 0.0, 1e-9),
        (c(0.0, 179.9), c(0.0, -179.9), 22.2, 0.5), // across the antimeridian
        (c(90.0, 0.0), c(-90.0, 0.0), 20015.1, 1.0), // pole to pole
    ];
    for (a, b, km, tol) in cases {
        let d = a.distance_km(&b);
        assert!((d - km).abs() <= tol, "{a:?} -> {b:?}: {d} km, want {km}");
        assert!((d - b.distance_km(&a)).abs() < 1e-9, "symmetric");
    }
}
