//! The relay's per-patient quotas: relayed transactions and gas per window, and the optional
//! allowlist of patients.
//!
//! Gas is reserved before a transaction is sent (its gas limit, the most it can cost) and
//! settled with what its receipt says it used; a transaction refused before it was sent
//! gives its reservation back. So concurrent relays of one patient cannot overrun the quota
//! together.

use crate::api_error::ApiError;
use crate::config::RelayPolicy;
use alloy::primitives::Address;
use std::collections::HashMap;
use std::sync::Mutex;

/// One patient's use in its current window.
#[derive(Debug, Clone, Copy)]
struct Usage {
    /// Unix time the window began (the first relay in it).
    since: u64,
    relays: u32,
    gas: u64,
}

/// Counts each patient's relays.
pub(crate) struct RelayQuota {
    policy: RelayPolicy,
    used: Mutex<HashMap<Address, Usage>>,
}

/// A relay counted against `patient`'s quota, holding `gas` until settled.
#[derive(Debug)]
#[must_use = "settle or refund a reservation"]
pub(crate) struct Reservation {
    patient: Address,
    since: u64,
    gas: u64,
}

impl RelayQuota {
    pub(crate) fn new(policy: RelayPolicy) -> Self {
        Self { policy, used: Mutex::new(HashMap::new()) }
    }

    /// Refuses a patient outside the allowlist (403).
    pub(crate) fn check_allowed(&self, patient: Address) -> Result<(), ApiError> {
        match &self.policy.patients {
            Some(allowed) if !allowed.contains(&patient) => Err(ApiError::forbidden(format!(
                "this server relays only for the patients it was told to (--relay-patient); \
                 {patient} is not one of them: submit the grant from the wallet instead"
            ))),
            _ => Ok(()),
        }
    }

    /// Counts one relay of at most `gas` against `patient`'s quota at unix time `now`, or
    /// refuses it (429, with when the window resets).
    pub(crate) fn reserve(
        &self,
        patient: Address,
        gas: u64,
        now: u64,
    ) -> Result<Reservation, ApiError> {
        self.check_allowed(patient)?;
        let window = self.policy.window.as_secs();
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        let usage = used.entry(patient).or_insert(Usage { since: now, relays: 0, gas: 0 });
        if now >= usage.since + window {
            *usage = Usage { since: now, relays: 0, gas: 0 };
        }
        let resets = usage.since + window;
        let refuse = |what: String| {
            ApiError::too_many(
                format!(
                    "{what}; the quota resets at {} (in {} s)",
                    ehr_sdk::time::format_timestamp(resets),
                    resets - now
                ),
                resets - now,
            )
        };
        if usage.relays >= self.policy.max_relays {
            return Err(refuse(format!(
                "{patient} has had {} transactions relayed in this window, the most this server \
                 relays per patient",
                usage.relays
            )));
        }
        if usage.gas.saturating_add(gas) > self.policy.max_gas {
            return Err(refuse(format!(
                "this transaction may use {gas} gas and {patient} has used {} of its {} gas \
                 for this window",
                usage.gas, self.policy.max_gas
            )));
        }
        usage.relays += 1;
        usage.gas += gas;
        Ok(Reservation { patient, since: usage.since, gas })
    }

    /// Replaces the reservation with the gas actually used.
    pub(crate) fn settle(&self, reservation: Reservation, gas_used: u64) {
        self.adjust(&reservation, |usage| {
            usage.gas = usage.gas - reservation.gas + gas_used.min(reservation.gas);
        });
    }

    /// Gives the reservation back: nothing was sent.
    pub(crate) fn refund(&self, reservation: Reservation) {
        self.adjust(&reservation, |usage| {
            usage.gas -= reservation.gas;
            usage.relays -= 1;
        });
    }

    fn adjust(&self, reservation: &Reservation, change: impl FnOnce(&mut Usage)) {
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        // A window that reset meanwhile no longer holds the reservation.
        if let Some(usage) = used.get_mut(&reservation.patient)
            && usage.since == reservation.since
        {
            change(usage);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn quota(max_relays: u32, max_gas: u64) -> RelayQuota {
        RelayQuota::new(RelayPolicy {
            window: Duration::from_secs(100),
            max_relays,
            max_gas,
            patients: None,
        })
    }

    #[test]
    fn relays_are_counted_per_patient_until_the_window_resets() {
        let q = quota(2, 1_000_000);
        let (a, b) = (Address::repeat_byte(1), Address::repeat_byte(2));
        q.settle(q.reserve(a, 10, 1_000).unwrap(), 5);
        q.settle(q.reserve(a, 10, 1_010).unwrap(), 5);
        let e = q.reserve(a, 10, 1_020).unwrap_err();
        assert_eq!(e.status, hyper::StatusCode::TOO_MANY_REQUESTS);
        let body = format!("{e:?}");
        assert!(body.contains("in 80 s") && body.contains("retry_after: Some(80)"), "{body}");
        q.settle(q.reserve(b, 10, 1_020).unwrap(), 5);
        q.settle(q.reserve(a, 10, 1_100).unwrap(), 5);
    }

    #[test]
    fn gas_is_reserved_then_settled_or_refunded() {
        let q = quota(10, 100);
        let a = Address::repeat_byte(1);
        let first = q.reserve(a, 60, 0).unwrap();
        // Reserved, so a second 60 does not fit while the first is in flight.
        assert!(q.reserve(a, 60, 0).is_err());
        q.settle(first, 30);
        let second = q.reserve(a, 60, 0).unwrap();
        assert!(q.reserve(a, 20, 0).is_err());
        q.refund(second);
        q.settle(q.reserve(a, 70, 0).unwrap(), 70);
        assert!(q.reserve(a, 1, 0).is_err());
    }

    #[test]
    fn the_allowlist_refuses_other_patients() {
        let q = RelayQuota::new(RelayPolicy {
            patients: Some(vec![Address::repeat_byte(1)]),
            ..RelayPolicy::default()
        });
        q.refund(q.reserve(Address::repeat_byte(1), 1, 0).unwrap());
        let e = q.reserve(Address::repeat_byte(2), 1, 0).unwrap_err();
        assert_eq!(e.status, hyper::StatusCode::FORBIDDEN);
    }
}
