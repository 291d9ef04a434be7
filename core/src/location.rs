//! Where perspectives are: points on Earth, the distance between them, and
//! BR 3.2.2.9's rule that perspectives 500 km apart are distinct.

use serde::{Deserialize, Serialize};

/// A point on Earth, in degrees (WGS 84). Always finite and in range.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawCoordinates", into = "RawCoordinates")]
pub struct Coordinates {
    latitude: f64,
    longitude: f64,
}

#[derive(Serialize, Deserialize)]
struct RawCoordinates {
    latitude: f64,
    longitude: f64,
}

/// Coordinates off the globe.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "coordinates ({latitude}, {longitude}) are not a latitude in [-90, 90] and a longitude in [-180, 180]"
)]
pub struct CoordinatesError {
    /// The latitude given, in degrees (possibly NaN or out of range).
    pub latitude: f64,
    /// The longitude given, in degrees (possibly NaN or out of range).
    pub longitude: f64,
}

impl Coordinates {
    /// Checks that latitude is in [-90, 90] and longitude in [-180, 180].
    pub fn new(latitude: f64, longitude: f64) -> Result<Self, CoordinatesError> {
        // NaN fails both range checks.
        if (-90.0..=90.0).contains(&latitude) && (-180.0..=180.0).contains(&longitude) {
            Ok(Self {
                latitude,
                longitude,
            })
        } else {
            Err(CoordinatesError {
                latitude,
                longitude,
            })
        }
    }

    /// Degrees north.
    pub fn latitude(&self) -> f64 {
        self.latitude
    }

    /// Degrees east.
    pub fn longitude(&self) -> f64 {
        self.longitude
    }

    /// Great-circle distance in kilometres (haversine on a sphere of the mean
    /// Earth radius, 6371.0088 km). Within 0.5 % of the ellipsoidal distance,
    /// ample for BR 3.2.2.9's 500 km "distinct perspectives" rule.
    pub fn distance_km(&self, other: &Coordinates) -> f64 {
        const EARTH_RADIUS_KM: f64 = 6371.0088;
        let (lat1, lat2) = (self.latitude.to_radians(), other.latitude.to_radians());
        let dlat = lat2 - lat1;
        let dlon = (other.longitude - self.longitude).to_radians();
        let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
    }
}

/// BR 3.2.2.9: two network perspectives are distinct when at least this far
/// apart (straight line).
pub const DISTINCT_PERSPECTIVES_KM: f64 = 500.0;

impl TryFrom<RawCoordinates> for Coordinates {
    type Error = CoordinatesError;

    fn try_from(raw: RawCoordinates) -> Result<Self, Self::Error> {
        Self::new(raw.latitude, raw.longitude)
    }
}

impl From<Coordinates> for RawCoordinates {
    fn from(c: Coordinates) -> Self {
        RawCoordinates {
            latitude: c.latitude,
            longitude: c.longitude,
        }
    }
}

/// Where the perspective says it is. A claim: the coordinator's configuration,
/// not the report, is what establishes a perspective's location.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    /// Free text such as a cloud region (`eu-west-1`) or a city.
    pub region: String,
    /// The claimed latitude and longitude; `None` when the perspective does
    /// not state them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coordinates: Option<Coordinates>,
}

#[cfg(test)]
mod tests;
