-- Builds the ACME Insurance warehouse from the benchmark's CSV files.
-- Run: cortex --project examples/acme load --csv-dir <dir with Claim.csv, Policy.csv, ...>
-- `{{csv_dir}}` is replaced by that directory. Table names keep the CSV names (Claim,
-- Policy_Amount, ...); DuckDB matches them without regard to case.

CREATE TABLE Agreement AS SELECT * FROM read_csv('{{csv_dir}}/Agreement.csv', header = true);
CREATE TABLE Agreement_Assessment AS SELECT * FROM read_csv('{{csv_dir}}/Agreement_Assessment.csv', header = true);
CREATE TABLE Agreement_Party_Role AS SELECT * FROM read_csv('{{csv_dir}}/Agreement_Party_Role.csv', header = true,
  types = {'Effective_Date': 'DATE', 'Expiration_Date': 'DATE'});
CREATE TABLE Assesment_Party_Role AS SELECT * FROM read_csv('{{csv_dir}}/Assesment_Party_Role.csv', header = true);
CREATE TABLE Assessment AS SELECT * FROM read_csv('{{csv_dir}}/Assessment.csv', header = true);
CREATE TABLE Assessment_Result AS SELECT * FROM read_csv('{{csv_dir}}/Assessment_Result.csv', header = true);
CREATE TABLE Catastrophe AS SELECT * FROM read_csv('{{csv_dir}}/Catastrophe.csv', header = true);
CREATE TABLE Claim AS SELECT * FROM read_csv('{{csv_dir}}/Claim.csv', header = true,
  types = {'Claims_Made_Date': 'DATE', 'Claim_Reopen_Date': 'DATE', 'Claim_Reported_Date': 'DATE', 'Claim_Status_Code': 'VARCHAR', 'Company_Claim_Number': 'BIGINT'});
CREATE TABLE Claim_Amount AS SELECT * FROM read_csv('{{csv_dir}}/Claim_Amount.csv', header = true,
  types = {'Event_Date': 'DATE', 'Claim_Amount': 'DECIMAL(15,2)'});
CREATE TABLE Claim_Coverage AS SELECT * FROM read_csv('{{csv_dir}}/Claim_Coverage.csv', header = true);
CREATE TABLE Expense_Payment AS SELECT * FROM read_csv('{{csv_dir}}/Expense_Payment.csv', header = true);
CREATE TABLE Expense_Reserve AS SELECT * FROM read_csv('{{csv_dir}}/Expense_Reserve.csv', header = true);
CREATE TABLE FireClaim AS SELECT * FROM read_csv('{{csv_dir}}/FireClaim.csv', header = true);
CREATE TABLE Geographic_Location AS SELECT * FROM read_csv('{{csv_dir}}/Geographic_Location.csv', header = true);
CREATE TABLE Insurable_Object AS SELECT * FROM read_csv('{{csv_dir}}/Insurable_Object.csv', header = true);
CREATE TABLE Location_Address AS SELECT * FROM read_csv('{{csv_dir}}/Location_Address.csv', header = true);
CREATE TABLE Loss_Payment AS SELECT * FROM read_csv('{{csv_dir}}/Loss_Payment.csv', header = true);
CREATE TABLE Loss_Reserve AS SELECT * FROM read_csv('{{csv_dir}}/Loss_Reserve.csv', header = true);
CREATE TABLE Occurrence AS SELECT * FROM read_csv('{{csv_dir}}/Occurrence.csv', header = true);
CREATE TABLE Organization AS SELECT * FROM read_csv('{{csv_dir}}/Organization.csv', header = true);
CREATE TABLE Party AS SELECT * FROM read_csv('{{csv_dir}}/Party.csv', header = true);
CREATE TABLE Party_Role AS SELECT * FROM read_csv('{{csv_dir}}/Party_Role.csv', header = true);
CREATE TABLE Person AS SELECT * FROM read_csv('{{csv_dir}}/Person.csv', header = true);
CREATE TABLE Physical_Location AS SELECT * FROM read_csv('{{csv_dir}}/Physical_Location.csv', header = true);
CREATE TABLE Policy AS SELECT * FROM read_csv('{{csv_dir}}/Policy.csv', header = true);
CREATE TABLE Policy_Amount AS SELECT * FROM read_csv('{{csv_dir}}/Policy_Amount.csv', header = true,
  types = {'Policy_Amount': 'DECIMAL(15,2)'});
CREATE TABLE Policy_Coverage_Detail AS SELECT * FROM read_csv('{{csv_dir}}/Policy_Coverage_Detail.csv', header = true);
CREATE TABLE Premium AS SELECT * FROM read_csv('{{csv_dir}}/Premium.csv', header = true);
CREATE TABLE Underwriting_Assessment AS SELECT * FROM read_csv('{{csv_dir}}/Underwriting_Assessment.csv', header = true);
