//! A token bucket per container for the calls whose quota the gatekeeper shares: ECR PutImage (10
//! requests/s per account and region by default, shared with the users' own pushes) and Inspector's
//! reads (limits AWS does not publish). Concurrency caps how many containers run; this caps what each
//! of them sends.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Calls per second, with a burst of one second's worth (at least one call). Clones share the bucket.
#[derive(Debug, Clone)]
pub struct Pace {
    rate: f64,
    bucket: Arc<Mutex<Bucket>>,
}

/// The bucket: tokens left (negative: calls already waiting for theirs) as of `at`.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Option<Instant>,
}

impl Pace {
    /// At most `rate` calls per second (a rate that is not a positive number paces nothing: the
    /// configuration refuses one before it gets here).
    pub fn per_second(rate: f64) -> Pace {
        Pace {
            rate,
            bucket: Arc::new(Mutex::new(Bucket {
                tokens: rate.max(1.0),
                at: None,
            })),
        }
    }

    /// The calls per second.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Takes the next token at `now`: how long the call waits for it (zero when one is left). Each
    /// call reserves its own slot, so waiting calls go out in order and never faster than the rate.
    fn reserve(&self, now: Instant) -> Duration {
        if !(self.rate.is_finite() && self.rate > 0.0) {
            return Duration::ZERO;
        }
        let mut b = match self.bucket.lock() {
            Ok(b) => b,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(at) = b.at {
            let refill = now.saturating_duration_since(at).as_secs_f64() * self.rate;
            b.tokens = (b.tokens + refill).min(self.rate.max(1.0));
        }
        b.at = Some(now);
        b.tokens -= 1.0;
        if b.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-b.tokens / self.rate)
        }
    }

    /// Waits for the next token.
    pub async fn take(&self) {
        let wait = self.reserve(Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(d: Duration) -> u128 {
        d.as_millis()
    }

    #[test]
    fn a_burst_of_one_seconds_worth_goes_at_once_then_calls_are_spaced_at_the_rate() {
        let pace = Pace::per_second(2.0);
        let t0 = Instant::now();
        let waits: Vec<u128> = (0..5).map(|_| ms(pace.reserve(t0))).collect();
        assert_eq!(waits, [0, 0, 500, 1000, 1500]);
    }

    #[test]
    fn tokens_come_back_with_time_up_to_the_burst() {
        let pace = Pace::per_second(2.0);
        let t0 = Instant::now();
        for _ in 0..2 {
            pace.reserve(t0);
        }
        assert_eq!(ms(pace.reserve(t0 + Duration::from_millis(500))), 0);
        let later = t0 + Duration::from_secs(60);
        let waits: Vec<u128> = (0..3).map(|_| ms(pace.reserve(later))).collect();
        assert_eq!(waits, [0, 0, 500], "never more than one second's burst");
    }

    #[test]
    fn a_rate_under_one_allows_one_call_then_waits_the_interval() {
        let pace = Pace::per_second(0.5);
        let t0 = Instant::now();
        assert_eq!(ms(pace.reserve(t0)), 0);
        assert_eq!(ms(pace.reserve(t0)), 2000);
    }

    #[test]
    fn clones_share_the_bucket() {
        let pace = Pace::per_second(1.0);
        let other = pace.clone();
        let t0 = Instant::now();
        assert_eq!(ms(pace.reserve(t0)), 0);
        assert_eq!(ms(other.reserve(t0)), 1000);
    }
}
