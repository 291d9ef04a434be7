#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::*;
use crate::test_fixtures::{PLACES, perspective, place, places};

const SECRET: &[u8] = b"cohort secret for the unit tests, 32+ bytes";

fn all_places() -> Vec<PerspectiveConfig> {
    (0..PLACES.len()).map(place).collect()
}

fn at(latitude: f64, longitude: f64) -> Coordinates {
    Coordinates::new(latitude, longitude).unwrap()
}

/// Asserts every rule a cohort must satisfy.
fn assert_valid(
    cohort: &Cohort,
    perspectives: &[PerspectiveConfig],
    size: usize,
    primary: Option<Coordinates>,
) {
    let members = &cohort.members;
    assert_eq!(members.len(), size, "{cohort:?}");
    let unique: BTreeSet<usize> = members.iter().copied().collect();
    assert_eq!(unique.len(), size, "duplicate member in {cohort:?}");
    let rirs: BTreeSet<Rir> = members.iter().map(|&i| perspectives[i].rir).collect();
    assert!(rirs.len() >= MIN_COHORT_RIRS, "one RIR in {cohort:?}");
    for (n, &a) in members.iter().enumerate() {
        for &b in &members[n + 1..] {
            let d = distance_km(perspectives[a].location, perspectives[b].location);
            assert!(d >= MIN_DISTANCE_KM, "{a} and {b} are {d} km apart");
        }
        if let Some(primary) = primary {
            assert!(distance_km(primary, perspectives[a].location) >= MIN_DISTANCE_KM);
        }
    }
}

#[test]
fn haversine_matches_known_distances() {
    let cases = [
        // (a, b, km, tolerance)
        ((50.11, 8.68), (52.37, 4.90), 364.0, 5.0), // Frankfurt–Amsterdam
        ((51.51, -0.13), (40.71, -74.01), 5_570.0, 15.0), // London–New York
        ((1.35, 103.82), (-33.87, 151.21), 6_300.0, 30.0), // Singapore–Sydney
        ((0.0, 0.0), (0.0, 180.0), 20_015.0, 5.0),  // half the equator
        ((90.0, 0.0), (-90.0, 0.0), 20_015.0, 5.0), // pole to pole
        ((10.0, 179.9), (10.0, -179.9), 21.9, 0.5), // across the antimeridian
        ((48.0, 2.0), (48.0, 2.0), 0.0, 0.001),
    ];
    for ((lat_a, lon_a), (lat_b, lon_b), km, tolerance) in cases {
        let d = distance_km(at(lat_a, lon_a), at(lat_b, lon_b));
        assert!(
            (d - km).abs() <= tolerance,
            "({lat_a},{lon_a})–({lat_b},{lon_b}): {d} km, expected {km}"
        );
        let back = distance_km(at(lat_b, lon_b), at(lat_a, lon_a));
        assert!((d - back).abs() < 1e-9, "not symmetric");
    }
}

#[test]
fn the_same_domain_always_gets_the_same_cohort() {
    let perspectives = all_places();
    let selector = CohortSelector::new(SECRET, &perspectives, 6, None).unwrap();
    let first = selector.select("example.com", 1, &[]).unwrap();
    assert_valid(&first, &perspectives, 6, None);
    for spelling in [
        "example.com",
        "EXAMPLE.com",
        "example.com.",
        " example.com ",
    ] {
        assert_eq!(
            selector.select(spelling, 1, &[]).unwrap(),
            first,
            "{spelling}"
        );
    }
    // A selector rebuilt from the same configuration agrees.
    let again = CohortSelector::new(SECRET, &perspectives, 6, None).unwrap();
    assert_eq!(again.select("example.com", 1, &[]).unwrap(), first);
}

#[test]
fn cohorts_depend_on_the_secret_and_spread_over_every_perspective() {
    let perspectives = all_places();
    let a = CohortSelector::new(SECRET, &perspectives, 5, None).unwrap();
    let b = CohortSelector::new(
        b"another secret, also more than 32 bytes",
        &perspectives,
        5,
        None,
    )
    .unwrap();
    let domains: Vec<String> = (0..200).map(|i| format!("d{i}.example")).collect();
    let differing = domains
        .iter()
        .filter(|d| a.select(d, 1, &[]).unwrap() != b.select(d, 1, &[]).unwrap())
        .count();
    // Without the secret the cohort cannot be predicted: most differ.
    assert!(
        differing > 150,
        "only {differing} of 200 cohorts depend on the secret"
    );

    let mut used = BTreeSet::new();
    let mut distinct_cohorts = BTreeSet::new();
    for d in &domains {
        let cohort = a.select(d, 1, &[]).unwrap();
        assert_valid(&cohort, &perspectives, 5, None);
        used.extend(cohort.members.iter().copied());
        let mut sorted = cohort.members.clone();
        sorted.sort_unstable();
        distinct_cohorts.insert(sorted);
    }
    assert_eq!(
        used.len(),
        perspectives.len(),
        "some perspective is never chosen"
    );
    assert!(
        distinct_cohorts.len() > 20,
        "only {} distinct cohorts",
        distinct_cohorts.len()
    );
}

#[test]
fn retries_pick_a_different_cohort() {
    // Twelve perspectives, six per cohort: attempt 2 can be disjoint.
    let perspectives = places(&[
        "iad", "dfw", "lax", "fra", "lhr", "arn", "mad", "sin", "nrt", "syd", "bom", "gru",
    ]);
    let selector = CohortSelector::new(SECRET, &perspectives, 6, None).unwrap();
    for domain in ["example.com", "example.net", "a.b.example"] {
        let first = selector.select(domain, 1, &[]).unwrap();
        let second = selector
            .select(domain, 2, std::slice::from_ref(&first))
            .unwrap();
        assert_valid(&second, &perspectives, 6, None);
        assert_eq!(second.attempt, 2);
        let overlap: Vec<_> = second
            .members
            .iter()
            .filter(|m| first.members.contains(m))
            .collect();
        assert!(overlap.is_empty(), "{domain}: attempt 2 reuses {overlap:?}");
        // Deterministic too.
        assert_eq!(
            selector
                .select(domain, 2, std::slice::from_ref(&first))
                .unwrap(),
            second
        );

        // A third attempt cannot be disjoint from both; it is still new.
        let third = selector
            .select(domain, 3, &[first.clone(), second.clone()])
            .unwrap();
        assert_valid(&third, &perspectives, 6, None);
        assert!(!third.same_members(&first.members) && !third.same_members(&second.members));
    }
}

#[test]
fn a_retry_repeats_a_cohort_only_when_there_is_no_other() {
    // Exactly one valid cohort of three: iad, fra, sin.
    let perspectives = places(&["iad", "fra", "sin"]);
    let selector = CohortSelector::new(SECRET, &perspectives, 3, None).unwrap();
    let first = selector.select("example.com", 1, &[]).unwrap();
    let second = selector
        .select("example.com", 2, std::slice::from_ref(&first))
        .unwrap();
    assert!(second.same_members(&first.members));

    // Four perspectives, cohorts of three: the retry differs in at least one.
    let perspectives = places(&["iad", "fra", "sin", "syd"]);
    let selector = CohortSelector::new(SECRET, &perspectives, 3, None).unwrap();
    let first = selector.select("example.com", 1, &[]).unwrap();
    let second = selector
        .select("example.com", 2, std::slice::from_ref(&first))
        .unwrap();
    assert!(!second.same_members(&first.members));
}

#[test]
fn infeasible_configurations_are_refused_with_their_obstacles() {
    // Same RIR everywhere.
    let one_rir = places(&["iad", "dfw", "lax"]);
    match CohortSelector::new(SECRET, &one_rir, 2, None) {
        Err(CohortError::NoValidCohort { size: 2, detail }) => {
            assert!(detail.contains("arin 3"), "{detail}")
        }
        other => panic!("{other:?}"),
    }
    // Frankfurt, Amsterdam and London are pairwise under 500 km except fra–lhr.
    let close = places(&["fra", "ams", "lhr", "iad"]);
    assert!(CohortSelector::new(SECRET, &close, 3, None).is_ok());
    match CohortSelector::new(SECRET, &close, 4, None) {
        Err(CohortError::NoValidCohort { detail, .. }) => {
            assert!(detail.contains("fra–ams (364 km)"), "{detail}");
            assert!(detail.contains("ams–lhr ("), "{detail}");
            assert!(!detail.contains("fra–lhr"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    // A primary in Frankfurt rules out fra and ams.
    match CohortSelector::new(SECRET, &close, 3, Some(at(50.0, 8.5))) {
        Err(CohortError::TooFewEligible {
            eligible,
            configured,
            excluded_near_primary,
            ..
        }) => {
            assert_eq!((eligible, configured), (2, 4));
            assert_eq!(excluded_near_primary, ["fra", "ams"]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        CohortSelector::new(SECRET, &close, 0, None).err(),
        Some(CohortError::Empty)
    );
    assert!(matches!(
        CohortSelector::new(SECRET, &close, 5, None),
        Err(CohortError::TooFewEligible { eligible: 4, .. })
    ));
}

#[test]
fn a_primary_nearby_is_never_in_a_cohort() {
    let perspectives = all_places();
    let primary = Some(at(50.11, 8.68)); // Frankfurt
    let selector = CohortSelector::new(SECRET, &perspectives, 6, primary).unwrap();
    for i in 0..50 {
        let cohort = selector.select(&format!("d{i}.example"), 1, &[]).unwrap();
        assert_valid(&cohort, &perspectives, 6, primary);
    }
}

fn arb_perspectives() -> impl Strategy<Value = Vec<PerspectiveConfig>> {
    proptest::collection::vec(
        (
            -80.0f64..80.0,
            -180.0f64..180.0,
            proptest::sample::select(Rir::ALL.to_vec()),
        ),
        1..16,
    )
    .prop_map(|points| {
        points
            .into_iter()
            .enumerate()
            .map(|(i, (lat, lon, rir))| {
                perspective(
                    &format!("p{i}"),
                    rir,
                    lat,
                    lon,
                    u8::try_from(i + 1).unwrap(),
                )
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_cohort_returned_satisfies_the_rules(
        perspectives in arb_perspectives(),
        size in 1usize..7,
        primary in proptest::option::of((-80.0f64..80.0, -180.0f64..180.0)),
        domains in proptest::collection::vec("[a-z]{1,8}\\.example", 1..4),
    ) {
        let primary = primary.map(|(lat, lon)| at(lat, lon));
        let Ok(selector) = CohortSelector::new(SECRET, &perspectives, size, primary) else {
            // When `new` refuses, an exhaustive check agrees that no cohort exists.
            prop_assert!(!exists_valid_cohort(&perspectives, size, primary));
            return Ok(());
        };
        for domain in &domains {
            let mut previous = Vec::new();
            for attempt in 1..=3 {
                let cohort = selector.select(domain, attempt, &previous).unwrap();
                assert_valid(&cohort, &perspectives, size, primary);
                prop_assert_eq!(&selector.select(domain, attempt, &previous).unwrap(), &cohort);
                previous.push(cohort);
            }
        }
    }
}

/// Brute force over every subset (small inputs only).
fn exists_valid_cohort(
    perspectives: &[PerspectiveConfig],
    size: usize,
    primary: Option<Coordinates>,
) -> bool {
    let n = perspectives.len();
    (0u32..(1 << n)).any(|mask| {
        let members: Vec<usize> = (0..n).filter(|i| mask & (1 << i) != 0).collect();
        if members.len() != size {
            return false;
        }
        let rirs: BTreeSet<Rir> = members.iter().map(|&i| perspectives[i].rir).collect();
        let far_from_primary = |i: usize| {
            primary.is_none_or(|p| distance_km(p, perspectives[i].location) >= MIN_DISTANCE_KM)
        };
        rirs.len() >= MIN_COHORT_RIRS
            && members.iter().all(|&i| far_from_primary(i))
            && members.iter().enumerate().all(|(k, &a)| {
                members[k + 1..].iter().all(|&b| {
                    distance_km(perspectives[a].location, perspectives[b].location)
                        >= MIN_DISTANCE_KM
                })
            })
    })
}
