//! The demo data `up` loads into an empty restaurant database: a few
//! restaurants with categories, items and modifiers, and a coupon, so the
//! docs page has something to show; and two available drivers near each
//! restaurant, so a delivery order of the demo reaches a driver. Loaded
//! once: a database that already holds any restaurant (or driver) is left
//! alone.

use delivery_pb::delivery_service_client::DeliveryServiceClient;
use foodmesh_proto::common::v1::{Address, GeoPoint, PageRequest};
use foodmesh_proto::delivery::v1 as delivery_pb;
use foodmesh_proto::restaurant::v1 as pb;
use pb::restaurant_service_client::RestaurantServiceClient;
use tonic::transport::Channel;

struct DemoItem {
    category: &'static str,
    name: &'static str,
    description: &'static str,
    price_minor: i64,
    extras: bool,
}

struct DemoRestaurant {
    name: &'static str,
    description: &'static str,
    phone: &'static str,
    email: &'static str,
    cuisine: &'static str,
    street: &'static str,
    city: &'static str,
    state: &'static str,
    zip: &'static str,
    country: &'static str,
    lat: f64,
    lon: f64,
    currency: &'static str,
    timezone: &'static str,
    delivery_fee_minor: i64,
    tax_rate_ppm: u32,
    items: &'static [DemoItem],
    extras: &'static [(&'static str, i64)],
}

const RESTAURANTS: &[DemoRestaurant] = &[
    DemoRestaurant {
        name: "Pizza Palace",
        description: "Best pizza in town",
        phone: "+12125550100",
        email: "info@pizzapalace.example",
        cuisine: "Italian",
        street: "123 Main St",
        city: "New York",
        state: "NY",
        zip: "10001",
        country: "US",
        lat: 40.7128,
        lon: -74.006,
        currency: "USD",
        timezone: "America/New_York",
        delivery_fee_minor: 299,
        tax_rate_ppm: 88_750,
        items: &[
            DemoItem {
                category: "Pizzas",
                name: "Margherita",
                description: "Tomato, mozzarella, basil",
                price_minor: 1299,
                extras: true,
            },
            DemoItem {
                category: "Pizzas",
                name: "Pepperoni",
                description: "Tomato, mozzarella, pepperoni",
                price_minor: 1449,
                extras: true,
            },
            DemoItem {
                category: "Sides",
                name: "Garlic bread",
                description: "Four slices",
                price_minor: 499,
                extras: false,
            },
            DemoItem {
                category: "Drinks",
                name: "Lemonade",
                description: "Fresh, 400 ml",
                price_minor: 350,
                extras: false,
            },
        ],
        extras: &[("Extra cheese", 150), ("Mushrooms", 100), ("No onions", 0)],
    },
    DemoRestaurant {
        name: "Sakura Sushi",
        description: "Nigiri, maki and ramen",
        phone: "+14155550123",
        email: "hello@sakura.example",
        cuisine: "Japanese",
        street: "88 Market St",
        city: "San Francisco",
        state: "CA",
        zip: "94105",
        country: "US",
        lat: 37.7936,
        lon: -122.3958,
        currency: "USD",
        timezone: "America/Los_Angeles",
        delivery_fee_minor: 399,
        tax_rate_ppm: 86_300,
        items: &[
            DemoItem {
                category: "Rolls",
                name: "California roll",
                description: "Crab, avocado, cucumber",
                price_minor: 895,
                extras: true,
            },
            DemoItem {
                category: "Rolls",
                name: "Salmon maki",
                description: "Six pieces",
                price_minor: 750,
                extras: true,
            },
            DemoItem {
                category: "Noodles",
                name: "Tonkotsu ramen",
                description: "Pork broth, egg, chashu",
                price_minor: 1595,
                extras: false,
            },
        ],
        extras: &[("Extra wasabi", 0), ("Spicy mayo", 75)],
    },
    DemoRestaurant {
        name: "Mama Africa Kitchen",
        description: "Home cooking from East Africa",
        phone: "+254700000100",
        email: "karibu@mama-africa.example",
        cuisine: "East African",
        street: "12 Moi Avenue",
        city: "Nairobi",
        state: "Nairobi",
        zip: "00100",
        country: "KE",
        lat: -1.2833,
        lon: 36.8167,
        currency: "KES",
        timezone: "Africa/Nairobi",
        delivery_fee_minor: 15000,
        tax_rate_ppm: 160_000,
        items: &[
            DemoItem {
                category: "Mains",
                name: "Nyama choma",
                description: "Grilled goat, kachumbari",
                price_minor: 95000,
                extras: true,
            },
            DemoItem {
                category: "Mains",
                name: "Pilau",
                description: "Spiced rice with beef",
                price_minor: 65000,
                extras: true,
            },
            DemoItem {
                category: "Drinks",
                name: "Chai",
                description: "Spiced milk tea",
                price_minor: 15000,
                extras: false,
            },
        ],
        extras: &[("Extra chapati", 5000), ("Pili pili", 0)],
    },
];

/// Adds two available drivers near each demo restaurant through
/// delivery-svc's gRPC API, unless it already has a driver.
///
/// # Errors
/// delivery-svc is unreachable or refuses a demo driver.
pub async fn load_drivers(delivery_url: &str) -> anyhow::Result<()> {
    let channel = Channel::from_shared(delivery_url.to_owned())?
        .connect()
        .await?;
    let mut client = DeliveryServiceClient::new(channel);
    let existing = client
        .list_drivers(delivery_pb::ListDriversRequest::default())
        .await?
        .into_inner();
    if !existing.drivers.is_empty() {
        return Ok(());
    }
    let mut added = 0;
    for (n, demo) in RESTAURANTS.iter().enumerate() {
        for (k, offset) in [0.004, -0.006].into_iter().enumerate() {
            let driver = client
                .create_driver(delivery_pb::CreateDriverRequest {
                    name: format!("{} Driver {}", demo.city, k + 1),
                    phone: format!("+1202555{:02}{:02}", n, k),
                    vehicle: if k == 0 { "scooter" } else { "bicycle" }.to_owned(),
                    location: Some(GeoPoint {
                        latitude: demo.lat + offset,
                        longitude: demo.lon + offset,
                    }),
                })
                .await?
                .into_inner();
            client
                .update_driver(delivery_pb::UpdateDriverRequest {
                    driver_id: driver.id,
                    available: Some(true),
                })
                .await?;
            added += 1;
        }
    }
    println!("foodmesh: added {added} demo drivers");
    Ok(())
}

/// Loads the demo restaurants through restaurant-svc's gRPC API unless the
/// database already holds a restaurant.
///
/// # Errors
/// restaurant-svc is unreachable or refuses a demo record.
pub async fn load(restaurant_url: &str) -> anyhow::Result<()> {
    let channel = Channel::from_shared(restaurant_url.to_owned())?
        .connect()
        .await?;
    let mut client = RestaurantServiceClient::new(channel);
    let existing = client
        .list_restaurants(pb::ListRestaurantsRequest {
            page: Some(PageRequest {
                page_size: 1,
                page_token: String::new(),
            }),
            include_inactive: true,
            ..Default::default()
        })
        .await?
        .into_inner();
    if !existing.restaurants.is_empty() {
        println!("foodmesh: restaurants exist already; demo data not loaded again");
        return Ok(());
    }
    for demo in RESTAURANTS {
        load_one(&mut client, demo).await?;
    }
    println!("foodmesh: loaded {} demo restaurants", RESTAURANTS.len());
    Ok(())
}

async fn load_one(
    client: &mut RestaurantServiceClient<Channel>,
    demo: &DemoRestaurant,
) -> anyhow::Result<()> {
    let restaurant = client
        .create_restaurant(pb::CreateRestaurantRequest {
            restaurant: Some(pb::RestaurantInput {
                name: demo.name.to_owned(),
                description: demo.description.to_owned(),
                phone: demo.phone.to_owned(),
                email: demo.email.to_owned(),
                cuisine_type: demo.cuisine.to_owned(),
                address: Some(Address {
                    street: demo.street.to_owned(),
                    city: demo.city.to_owned(),
                    state: demo.state.to_owned(),
                    zip_code: demo.zip.to_owned(),
                    country: demo.country.to_owned(),
                }),
                location: Some(GeoPoint {
                    latitude: demo.lat,
                    longitude: demo.lon,
                }),
                currency: demo.currency.to_owned(),
                opening_hours: (1..=7)
                    .map(|day| pb::OpeningHours {
                        day_of_week: day,
                        opens: "11:00".to_owned(),
                        closes: "23:00".to_owned(),
                    })
                    .collect(),
                timezone: demo.timezone.to_owned(),
                delivery_fee_minor: demo.delivery_fee_minor,
                avg_prep_minutes: 20,
                tax_rate_ppm: demo.tax_rate_ppm,
                active: Some(true),
            }),
        })
        .await?
        .into_inner();
    let id = restaurant.id;

    let group = client
        .create_option_group(pb::CreateOptionGroupRequest {
            restaurant_id: id,
            name: "Extras".to_owned(),
            min_select: 0,
            max_select: u32::try_from(demo.extras.len()).unwrap_or(0),
            options: demo
                .extras
                .iter()
                .map(|(name, delta)| pb::OptionInput {
                    id: None,
                    name: (*name).to_owned(),
                    price_delta_minor: *delta,
                    available: Some(true),
                })
                .collect(),
        })
        .await?
        .into_inner();

    let mut categories: Vec<(&str, i64)> = Vec::new();
    for item in demo.items {
        let category_id = match categories.iter().find(|(n, _)| *n == item.category) {
            Some((_, cid)) => *cid,
            None => {
                let created = client
                    .create_category(pb::CreateCategoryRequest {
                        restaurant_id: id,
                        name: item.category.to_owned(),
                        description: String::new(),
                        position: None,
                    })
                    .await?
                    .into_inner();
                categories.push((item.category, created.id));
                created.id
            }
        };
        client
            .create_menu_item(pb::CreateMenuItemRequest {
                restaurant_id: id,
                name: item.name.to_owned(),
                description: item.description.to_owned(),
                price_minor: item.price_minor,
                category_id: Some(category_id),
                available: Some(true),
                image_url: String::new(),
                option_group_ids: if item.extras {
                    vec![group.id]
                } else {
                    Vec::new()
                },
                position: None,
            })
            .await?;
    }
    client
        .create_coupon(pb::CreateCouponRequest {
            restaurant_id: id,
            code: "WELCOME10".to_owned(),
            description: "10% off your first order".to_owned(),
            kind: pb::DiscountKind::Percent as i32,
            value: 1000,
            max_per_customer: 1,
            ..Default::default()
        })
        .await?;
    Ok(())
}
