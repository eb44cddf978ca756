-- Builds the booking marketplace warehouse from MetricFlow's simple_model CSV fixtures.
-- Run: cortex --project examples/mf load --csv-dir <.../source_tables_csv/simple_model>
CREATE TABLE fct_bookings AS SELECT * FROM read_csv('{{csv_dir}}/fct_bookings.csv', header = true);
CREATE TABLE dim_listings_latest AS SELECT * FROM read_csv('{{csv_dir}}/dim_listings_latest.csv', header = true);
CREATE TABLE dim_users_latest AS SELECT * FROM read_csv('{{csv_dir}}/dim_users_latest.csv', header = true);
CREATE TABLE fct_views AS SELECT * FROM read_csv('{{csv_dir}}/fct_views.csv', header = true);
CREATE TABLE fct_visits AS SELECT * FROM read_csv('{{csv_dir}}/fct_visits.csv', header = true);
CREATE TABLE fct_buys AS SELECT * FROM read_csv('{{csv_dir}}/fct_buys.csv', header = true);
CREATE TABLE fct_revenue AS SELECT * FROM read_csv('{{csv_dir}}/fct_revenue.csv', header = true);
CREATE TABLE fct_id_verifications AS SELECT * FROM read_csv('{{csv_dir}}/fct_id_verifications.csv', header = true);
CREATE TABLE dim_companies AS SELECT * FROM read_csv('{{csv_dir}}/dim_companies.csv', header = true);
