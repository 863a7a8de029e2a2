-- The demo catalogue: two agencies with their State Treasury (Kho bạc Nhà nước) accounts,
-- receipt template and series, fees and the sandbox channel. Idempotent: every row is
-- inserted only if missing, so a second run changes nothing. Tax codes and account numbers
-- have the real shapes but are made up. Run by ldg_seed_demo_blocking in one transaction,
-- after the migrations; the clients are added by the caller.

SET LOCAL search_path = feegate, pg_temp;

INSERT INTO channels (code, name, enabled) VALUES
    ('sandbox', 'Sandbox (ngân hàng thử nghiệm)', true),
    ('vnpay', 'VNPAY (thẻ ATM / QR ngân hàng)', true),
    ('momo', 'Ví MoMo', true),
    ('zalopay', 'ZaloPay', true)
ON CONFLICT DO NOTHING;

INSERT INTO receipt_series (template, series, next_number) VALUES
    ('01BLP0-001', 'AA-26E', 1),
    ('01BLP0-001', 'AB-26E', 1)
ON CONFLICT DO NOTHING;

INSERT INTO agencies (code, name, tax_code, address, receipt_template, receipt_series) VALUES
    ('STP-HN', 'Sở Tư pháp Thành phố Hà Nội', '0101348576',
     '1B Trần Phú, phường Hà Đông, Thành phố Hà Nội', '01BLP0-001', 'AA-26E'),
    ('CA-HCM', 'Công an Thành phố Hồ Chí Minh (Phòng Quản lý xuất nhập cảnh)', '0301187439',
     '196 Nguyễn Thị Minh Khai, phường Xuân Hòa, Thành phố Hồ Chí Minh', '01BLP0-001',
     'AB-26E')
ON CONFLICT DO NOTHING;

INSERT INTO treasury_accounts (code, agency_code, name, bank_name, account_no) VALUES
    ('STP-HN-3511', 'STP-HN', 'Tài khoản tạm thu phí, lệ phí Sở Tư pháp Hà Nội',
     'Kho bạc Nhà nước Khu vực I (Hà Nội)', '3511.0.1052817.91047'),
    ('NSNN-HN-7111', 'STP-HN', 'Thu ngân sách Thành phố Hà Nội',
     'Kho bạc Nhà nước Khu vực I (Hà Nội)', '7111.0.1052817.00000'),
    ('CA-HCM-3511', 'CA-HCM', 'Tài khoản tạm thu lệ phí xuất nhập cảnh Công an TP.HCM',
     'Kho bạc Nhà nước Khu vực II (TP. Hồ Chí Minh)', '3511.0.1058874.91039'),
    ('NSNN-HCM-7111', 'CA-HCM', 'Thu ngân sách trung ương tại TP. Hồ Chí Minh',
     'Kho bạc Nhà nước Khu vực II (TP. Hồ Chí Minh)', '7111.0.1058874.00000')
ON CONFLICT DO NOTHING;

INSERT INTO fees (agency_code, fee_code, name, amount_vnd_min, amount_vnd_max, amounts_vnd,
                  amount_step_vnd) VALUES
    ('STP-HN', 'LLTP', 'Phí cấp Phiếu lý lịch tư pháp', 200000, 200000, '{200000}', NULL),
    ('STP-HN', 'LLTP-UD', 'Phí cấp Phiếu lý lịch tư pháp (học sinh, sinh viên, người có công)',
     100000, 100000, '{100000}', NULL),
    ('STP-HN', 'TLHT', 'Lệ phí cấp bản sao trích lục hộ tịch (8.000 đồng/bản)', 8000, 400000,
     NULL, 8000),
    ('STP-HN', 'KH-NN', 'Lệ phí đăng ký kết hôn có yếu tố nước ngoài', 1000000, 1000000,
     '{1000000}', NULL),
    ('CA-HCM', 'HC-MOI', 'Lệ phí cấp mới hộ chiếu phổ thông', 200000, 200000, '{200000}', NULL),
    ('CA-HCM', 'HC-LAI', 'Lệ phí cấp lại hộ chiếu phổ thông (bị hỏng, bị mất)', 400000, 400000,
     '{400000}', NULL),
    ('CA-HCM', 'GXN-XNC', 'Lệ phí cấp giấy xác nhận nhân sự, giấy thông hành', 50000, 200000,
     '{50000,200000}', NULL)
ON CONFLICT DO NOTHING;

-- LLTP is shared 70/30 between the agency's collection account and the city budget;
-- the passport fees go 100% to the central budget account; the rest to the agency.
INSERT INTO fee_splits (agency_code, fee_code, ordinal, treasury_account, share_bp) VALUES
    ('STP-HN', 'LLTP', 1, 'STP-HN-3511', 7000),
    ('STP-HN', 'LLTP', 2, 'NSNN-HN-7111', 3000),
    ('STP-HN', 'LLTP-UD', 1, 'STP-HN-3511', 7000),
    ('STP-HN', 'LLTP-UD', 2, 'NSNN-HN-7111', 3000),
    ('STP-HN', 'TLHT', 1, 'NSNN-HN-7111', 10000),
    ('STP-HN', 'KH-NN', 1, 'NSNN-HN-7111', 10000),
    ('CA-HCM', 'HC-MOI', 1, 'NSNN-HCM-7111', 10000),
    ('CA-HCM', 'HC-LAI', 1, 'NSNN-HCM-7111', 10000),
    ('CA-HCM', 'GXN-XNC', 1, 'CA-HCM-3511', 2500),
    ('CA-HCM', 'GXN-XNC', 2, 'NSNN-HCM-7111', 7500)
ON CONFLICT DO NOTHING;

INSERT INTO agency_channels (agency_code, channel) VALUES
    ('STP-HN', 'sandbox'), ('STP-HN', 'vnpay'), ('STP-HN', 'momo'), ('STP-HN', 'zalopay'),
    ('CA-HCM', 'sandbox'), ('CA-HCM', 'vnpay'), ('CA-HCM', 'momo'), ('CA-HCM', 'zalopay')
ON CONFLICT DO NOTHING;
