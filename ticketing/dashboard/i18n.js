// The dashboard's two languages: Vietnamese first, English one click away (kept in this browser). Column
// names stay the API's field names, which are what the CSV and the documentation call them.

const KEY = "metro-qr.audit.lang";

const TEXT = {
  vi: {
    title: "Metro Tuyến 1 — Kiểm toán",
    skip: "Bỏ qua đến nội dung",
    nav: "Báo cáo",
    otherLanguage: "English",
    signOut: "Đăng xuất",
    signIn: "Đăng nhập kiểm toán viên",
    signInHelp: "Dán mã truy cập kiểm toán (tạo bằng python -m ticketing tokens create --role auditor). Mã chỉ được giữ trong thẻ này và mất khi đóng thẻ.",
    token: "Mã truy cập kiểm toán",
    signInButton: "Đăng nhập",
    wrongToken: "Mã này không được chấp nhận: không phải mã kiểm toán hoặc quản trị, hoặc đã bị thu hồi.",
    sessionEnded: "Phiên đã kết thúc: máy chủ không còn chấp nhận mã này. Vui lòng đăng nhập lại.",
    emptyToken: "Hãy nhập mã truy cập.",
    loading: "Đang tải…",
    failed: "Không tải được",
    ridership: "Lượt đi theo giờ và ngày",
    od: "Ma trận điểm đi – điểm đến",
    revenue: "Doanh thu theo ngày và sản phẩm",
    denials: "Lượt bị từ chối",
    anomalies: "Bất thường",
    gates: "Tình trạng cổng",
    trail: "Lượt quét và chuyến đi liên quan",
    from: "Từ ngày",
    to: "Đến ngày (không gồm)",
    station: "Ga",
    gate: "Cổng",
    product: "Sản phẩm",
    bucket: "Nhóm theo",
    byHour: "Giờ",
    byDay: "Ngày",
    hour: "Giờ",
    day: "Ngày",
    kind: "Loại",
    limit: "Tối đa mỗi loại",
    reason: "Lý do",
    all: "Tất cả",
    filters: "Bộ lọc",
    show: "Xem",
    csv: "Tải CSV",
    csvSaved: "Đã tải tệp CSV",
    noRows: "Không có dòng nào.",
    apiRows: "Các dòng API trả về (như trong CSV)",
    entries: "Lượt vào",
    exits: "Lượt ra",
    ridershipChart: "Lượt vào, lượt ra và lượt bị từ chối",
    odChart: "Số chuyến theo điểm đi (hàng) và điểm đến (cột)",
    originDestination: "Điểm đi \\ Điểm đến",
    revenueChart: "Vé bán theo ngày và sản phẩm, cước đã đi, hoàn tiền và thu bù cước",
    sold: "Bán",
    faresRidden: "Cước các chuyến đã đi",
    refunds: "Hoàn tiền",
    adjustments: "Thu bù cước",
    adjustmentsRows: "Thu bù cước tại cổng (API: adjustments)",
    freeRides: "Lượt đi miễn phí",
    freeRidesChart: "Lượt vào miễn phí theo ngày và đối tượng",
    denialsByReason: "Lượt từ chối theo lý do",
    denialsByGate: "Lượt từ chối theo cổng",
    anomaliesChart: "Số bất thường theo loại",
    count: "Số lượng",
    behind: "Dữ liệu gốc",
    openScans: "Xem lượt quét và chuyến đi",
    scans: "Lượt quét",
    trips: "Chuyến đi",
    backToAnomalies: "Quay lại danh sách bất thường",
    gatesChart: "Số phút kể từ lần tải lên gần nhất",
    minutesSinceUpload: "Phút kể từ lần tải lên",
    gatesTable: "Các cổng, cổng cần đến kiểm tra trước",
    yes: "có",
    no: "không",
    neverFetched: "chưa từng lấy",
    lessThanAMinute: "dưới 1 phút",
    minutes: "phút",
    hours: "giờ",
    days: "ngày",
  },
  en: {
    title: "Metro Line 1 — Audit",
    skip: "Skip to content",
    nav: "Reports",
    otherLanguage: "Tiếng Việt",
    signOut: "Sign out",
    signIn: "Auditor sign-in",
    signInHelp: "Paste an auditor token (made with python -m ticketing tokens create --role auditor). It is kept in this tab only and is gone when the tab closes.",
    token: "Auditor token",
    signInButton: "Sign in",
    wrongToken: "This token was refused: it is not an auditor or admin token, or it has been revoked.",
    sessionEnded: "Your session has ended: the server no longer accepts this token. Please sign in again.",
    emptyToken: "Enter a token.",
    loading: "Loading…",
    failed: "Could not load",
    ridership: "Ridership by hour and day",
    od: "Origin–destination matrix",
    revenue: "Revenue per day by product",
    denials: "Denials",
    anomalies: "Anomalies",
    gates: "Gate health",
    trail: "The scans and trips behind it",
    from: "From",
    to: "To (not included)",
    station: "Station",
    gate: "Gate",
    product: "Product",
    bucket: "Group by",
    byHour: "Hour",
    byDay: "Day",
    hour: "Hour",
    day: "Day",
    kind: "Kind",
    limit: "At most per kind",
    reason: "Reason",
    all: "All",
    filters: "Filters",
    show: "Show",
    csv: "Download CSV",
    csvSaved: "CSV file downloaded",
    noRows: "No rows.",
    apiRows: "The rows the API answers (as in the CSV)",
    entries: "Entries",
    exits: "Exits",
    ridershipChart: "Entries, exits and denials",
    odChart: "Trips by origin (rows) and destination (columns)",
    originDestination: "Origin \\ Destination",
    revenueChart: "Tickets sold per day by product, fares ridden, refunds and fare adjustments",
    sold: "Sold",
    faresRidden: "Fares ridden",
    refunds: "Refunds",
    adjustments: "Fare adjustments",
    adjustmentsRows: "Fares owed collected at the gates (API: adjustments)",
    freeRides: "Free rides",
    freeRidesChart: "Free entries per day by category",
    denialsByReason: "Denials by reason",
    denialsByGate: "Denials by gate",
    anomaliesChart: "Anomalies by kind",
    count: "Count",
    behind: "Behind it",
    openScans: "Open its scans and trips",
    scans: "Scans",
    trips: "Trips",
    backToAnomalies: "Back to the anomalies",
    gatesChart: "Minutes since the last upload",
    minutesSinceUpload: "Minutes since upload",
    gatesTable: "Gates, those needing a visit first",
    yes: "yes",
    no: "no",
    neverFetched: "never fetched",
    lessThanAMinute: "under a minute",
    minutes: "min",
    hours: "h",
    days: "d",
  },
};

// Product codes as riders and staff name them (the riders' app's names; free_priority is the free riders').
const PRODUCTS = {
  vi: {
    single: "Vé lượt",
    day: "Vé 1 ngày",
    three_day: "Vé 3 ngày",
    monthly: "Vé tháng",
    monthly_student: "Vé tháng HSSV",
    free_priority: "Miễn phí (ưu tiên)",
  },
  en: {
    single: "Single journey",
    day: "Day pass",
    three_day: "3-day pass",
    monthly: "Monthly pass",
    monthly_student: "Student monthly pass",
    free_priority: "Free (priority)",
  },
};

const KINDS = {
  vi: {
    double_use: "Dùng hai lần",
    passback: "Chuyền vé",
    overstay: "Ở quá giờ",
    entry_unseen: "Ra không thấy vào",
    repeated_exit: "Ra hai lần",
    used_after_refund: "Dùng sau hoàn tiền",
    journal_gap: "Nhật ký bị hở",
    pass_too_fast: "Vé tháng đi quá nhanh",
  },
  en: {
    double_use: "Double use",
    passback: "Passback",
    overstay: "Overstay",
    entry_unseen: "Entry unseen",
    repeated_exit: "Repeated exit",
    used_after_refund: "Used after refund",
    journal_gap: "Journal gap",
    pass_too_fast: "Pass too fast",
  },
};

const VISITS = {
  vi: {
    never_uploaded: "chưa từng tải lên",
    upload_overdue: "quá lâu chưa tải lên",
    journal_gap: "nhật ký bị hở",
    clock_off: "lệch đồng hồ",
    stale_lists: "danh sách cũ",
  },
  en: {
    never_uploaded: "never uploaded",
    upload_overdue: "upload overdue",
    journal_gap: "journal gap",
    clock_off: "clock off",
    stale_lists: "stale lists",
  },
};

// The lists a gate decides scans from (gate health's `lists`: validator.records.DECIDING_LISTS).
const LISTS = {
  vi: { revocations: "Vé bị thu hồi", passes: "Vé tháng", free_riders: "Người đi miễn phí" },
  en: { revocations: "Revocations", passes: "Passes", free_riders: "Free riders" },
};

// A scan's `kind`, an override's reason (fare_rules.overrides, as the gate's screen words it) and how a fare
// owed was paid (fare_rules.settlement.PaymentMethod).
const SCAN_KINDS = {
  vi: { scan: "Quét vé", settlement: "Thu bù cước", override: "Nhân viên xử lý" },
  en: { scan: "Scan", settlement: "Settlement", override: "Staff override" },
};

const OVERRIDE_REASONS = {
  vi: {
    broken_phone: "Điện thoại hỏng, không hiện được vé",
    evacuation: "Sơ tán khẩn cấp",
    system_fault: "Lỗi hệ thống cổng soát vé",
    child_under_6: "Trẻ em dưới 6 tuổi đi cùng người lớn",
    staff_judgement: "Nhân viên nhà ga quyết định",
    other: "Lý do khác",
  },
  en: {
    broken_phone: "Broken phone, ticket not shown",
    evacuation: "Evacuation",
    system_fault: "Gate system fault",
    child_under_6: "Child under 6 with an adult",
    staff_judgement: "Station staff's judgement",
    other: "Other reason",
  },
};

const METHODS = {
  vi: { cash: "Tiền mặt", vietqr: "VietQR" },
  en: { cash: "Cash", vietqr: "VietQR" },
};

let current = localStorage.getItem(KEY) === "en" ? "en" : "vi";

export function lang() {
  return current;
}

export function setLang(next) {
  current = next === "en" ? "en" : "vi";
  localStorage.setItem(KEY, current);
  document.documentElement.lang = current;
}

export function t(key) {
  return TEXT[current][key] ?? key;
}

export function productLabel(product) {
  return PRODUCTS[current][product] ?? product;
}

export function kindLabel(kind) {
  return KINDS[current][kind] ?? kind;
}

export function visitLabel(reason) {
  return VISITS[current][reason] ?? reason;
}

export function listLabel(name) {
  return LISTS[current][name] ?? name;
}

export function scanKindLabel(kind) {
  return SCAN_KINDS[current][kind] ?? kind;
}

export function overrideReasonLabel(reason) {
  return OVERRIDE_REASONS[current][reason] ?? reason;
}

export function methodLabel(method) {
  return METHODS[current][method] ?? method;
}

// An age in seconds as days, hours and minutes (the two largest parts): "3 giờ 5 phút", "3 h 5 min".
export function duration(seconds) {
  if (seconds == null) return "—";
  if (seconds < 60) return t("lessThanAMinute");
  const parts = [
    [Math.floor(seconds / 86_400), t("days")],
    [Math.floor((seconds % 86_400) / 3_600), t("hours")],
    [Math.floor((seconds % 3_600) / 60), t("minutes")],
  ];
  const first = parts.findIndex(([n]) => n > 0);
  return parts.slice(first, first + 2).filter(([n]) => n > 0).map(([n, unit]) => `${num(n)} ${unit}`).join(" ");
}

export function num(value) {
  return value == null ? "—" : new Intl.NumberFormat(current === "vi" ? "vi-VN" : "en-US").format(value);
}

export function money(value) {
  return value == null ? "—" : `${num(value)} ₫`;
}
