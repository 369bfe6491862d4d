//! The engine's reading of homophone slips ([`analysis::Speller`]) against the service's
//! vocabulary: the domain dictionary, the thesaurus's labels and aliases (kept equal to the
//! thesaurus on load and after every edit), and the words the ticket rules listen for (category
//! cues, guidance tags and topics). Every query text is read through it once, in
//! [`crate::Engine::analyse`] and before a ticket's rules look at its words.

use std::sync::{Arc, RwLock};

use analysis::Speller;

/// One speller, shared by the engine and its thesaurus hook.
#[derive(Debug, Clone)]
pub(crate) struct SharedSpeller(Arc<RwLock<Arc<Speller>>>);

impl SharedSpeller {
    /// The domain dictionary and the rules' words; the thesaurus's come with the graph.
    pub(crate) fn new() -> SharedSpeller {
        SharedSpeller(Arc::new(RwLock::new(Arc::new(Speller::new(rule_words())))))
    }

    /// The speller in use now.
    pub(crate) fn current(&self) -> Arc<Speller> {
        Arc::clone(&self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Reads slips against `thesaurus_words` too (replacing the previous thesaurus's words).
    pub(crate) fn set_thesaurus_words(&self, thesaurus_words: &[String]) {
        let fresh = Speller::new(rule_words().map(str::to_owned).chain(thesaurus_words.iter().cloned()));
        *self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(fresh);
    }
}

/// The words the ticket rules listen for.
fn rule_words() -> impl Iterator<Item = &'static str> {
    crate::ticket::cue_vocabulary().chain(crate::guidance::GuidanceRules::bundled().words())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_words_and_thesaurus_words_are_read_and_replaced() {
        let shared = SharedSpeller::new();
        // 故障 is a fault-repair cue word.
        assert_eq!(shared.current().correct("又报故账了").text, "又报故障了");
        assert_eq!(shared.current().correct("锟斤烤告警").text, "锟斤烤告警");
        shared.set_thesaurus_words(&["锟斤拷告警".to_string()]);
        assert_eq!(shared.current().correct("锟斤烤告警").text, "锟斤拷告警");
        shared.set_thesaurus_words(&[]);
        assert_eq!(shared.current().correct("锟斤烤告警").text, "锟斤烤告警");
        assert_eq!(shared.current().correct("又报故账了").text, "又报故障了");
    }
}
