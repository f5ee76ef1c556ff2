//! Invoice numbers: sequential per restaurant, without gaps or repeats,
//! however many invoices are numbered at once, and a number whose invoice
//! was rolled back is given again.

use std::collections::BTreeMap;

use crate::helpers::migrated;

#[tokio::test]
async fn numbers_run_one_two_three_per_restaurant_under_concurrency() {
    let (_db, pool) = migrated(10).await;
    let tasks: Vec<_> = (0..40_i64)
        .map(|n| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let restaurant = 1 + n % 2;
                let mut tx = pool.begin().await.expect("begins");
                let number = accounting_svc::store::next_invoice_number(&mut tx, restaurant)
                    .await
                    .expect("numbered");
                // Every fifth one fails after taking its number.
                if n % 5 == 4 {
                    tx.rollback().await.expect("rolls back");
                    None
                } else {
                    tx.commit().await.expect("commits");
                    Some((restaurant, number))
                }
            })
        })
        .collect();
    let mut numbers: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for task in tasks {
        if let Some((restaurant, number)) = task.await.expect("the task ran") {
            numbers.entry(restaurant).or_default().push(number);
        }
    }
    for (restaurant, mut taken) in numbers {
        taken.sort_unstable();
        let expected: Vec<i64> = (1..=16).collect();
        assert_eq!(taken, expected, "restaurant {restaurant}");
    }
}
