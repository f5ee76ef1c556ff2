//! The delivery log, as it stands.

use super::Notifications;
use crate::domain::message::Notification;
use crate::domain::{DomainError, Page};
use crate::store::{self, LogFilter};

impl Notifications {
    /// A page of the log, newest first, and the next page's token.
    ///
    /// # Errors
    /// The database failed.
    pub async fn log(
        &self,
        filter: &LogFilter,
        page: Page,
    ) -> Result<(Vec<Notification>, Option<String>), DomainError> {
        let mut conn = self.pool.acquire().await?;
        let found = store::notifications(&mut conn, filter, page.cursor(), page.size()).await?;
        let next = page.next(found.len(), found.last().map(|n| n.id));
        Ok((found, next))
    }
}
