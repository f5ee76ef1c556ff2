//! Templates, as admins manage them. Every save is checked whole, so a
//! template naming a placeholder nobody fills never reaches a sender.

use super::Notifications;
use crate::domain::channel::Channel;
use crate::domain::template::Template;
use crate::domain::{DomainError, Violations};
use crate::store::{self, StoredTemplate};

/// A change to a template: what is given replaces what is there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplatePatch {
    pub kind: Option<String>,
    pub channel: Option<Channel>,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub active: Option<bool>,
}

impl Notifications {
    /// # Errors
    /// [`DomainError::TemplateTaken`], or the database failed.
    pub async fn create_template(
        &self,
        template: &Template,
    ) -> Result<StoredTemplate, DomainError> {
        let mut conn = self.pool.acquire().await?;
        store::insert_template(&mut conn, template, self.now()).await
    }

    /// Applies `patch` to template `id`, checking the result whole. The
    /// row stays locked from the read to the write, so two admins editing
    /// different fields at once both keep their change.
    ///
    /// # Errors
    /// [`DomainError::TemplateNotFound`], [`DomainError::Invalid`] naming
    /// each bad field, [`DomainError::TemplateTaken`], or the database
    /// failed.
    pub async fn update_template(
        &self,
        id: i64,
        patch: TemplatePatch,
    ) -> Result<StoredTemplate, DomainError> {
        let mut tx = self.pool.begin().await?;
        let (_, current, _) = store::template_for_update(&mut tx, id).await?;
        let template = Template::parse(
            patch.kind.as_deref().unwrap_or(&current.kind),
            patch.channel.unwrap_or(current.channel),
            patch.subject.as_deref().unwrap_or(&current.subject),
            patch.body.as_deref().unwrap_or(&current.body),
            patch.active.unwrap_or(current.active),
        )
        .map_err(DomainError::Invalid)?;
        let stored = store::update_template(&mut tx, id, &template, self.now()).await?;
        tx.commit().await?;
        Ok(stored)
    }

    /// # Errors
    /// [`DomainError::TemplateNotFound`], or the database failed.
    pub async fn template(&self, id: i64) -> Result<StoredTemplate, DomainError> {
        let mut conn = self.pool.acquire().await?;
        store::template(&mut conn, id).await
    }

    /// # Errors
    /// The database failed.
    pub async fn templates(
        &self,
        kind: Option<&str>,
        channel: Option<Channel>,
    ) -> Result<Vec<StoredTemplate>, DomainError> {
        let mut conn = self.pool.acquire().await?;
        store::templates(&mut conn, kind, channel).await
    }
}

/// A template kind filter: empty for none.
///
/// # Errors
/// A kind that could not name a template.
pub fn kind_filter(kind: &str) -> Result<Option<&str>, Violations> {
    if kind.is_empty() {
        return Ok(None);
    }
    crate::domain::template::check_kind(kind).map_err(|why| Violations::one("kind", why))?;
    Ok(Some(kind))
}
