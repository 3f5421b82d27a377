<?php
/**
 * Settings > Related headlines: service URL, API key, number of items, title.
 *
 * The API key is stored in the option (or set in wp-config.php as RELATED_HEADLINES_API_KEY, which
 * wins) and is never written into a page: its field is always empty, says whether a key is stored,
 * and a save with the field left blank keeps the stored key.
 *
 * @package RelatedHeadlines
 */

namespace RelatedHeadlines;

defined( 'ABSPATH' ) || exit;

/**
 * The plugin's settings and their page.
 */
final class Settings {

	const OPTION = 'related_headlines_settings';
	const GROUP  = 'related_headlines';
	const PAGE   = 'related-headlines';
	const DEFAULTS = array(
		'service_url' => '',
		'api_key'     => '',
		'k'           => 5,
		'title'       => '',
	);

	/**
	 * Hooks the page.
	 */
	public function register() {
		add_action( 'admin_init', array( $this, 'register_setting' ) );
		add_action( 'admin_menu', array( $this, 'add_page' ) );
		add_filter( 'plugin_action_links_' . plugin_basename( RELATED_HEADLINES_FILE ), array( $this, 'action_links' ) );
	}

	/**
	 * The settings, with defaults; the key of wp-config.php wins over the stored one.
	 *
	 * @return array
	 */
	public static function get() {
		$stored   = get_option( self::OPTION, array() );
		$settings = array_merge( self::DEFAULTS, is_array( $stored ) ? array_intersect_key( $stored, self::DEFAULTS ) : array() );
		if ( self::key_in_config() ) {
			$settings['api_key'] = (string) RELATED_HEADLINES_API_KEY;
		}
		$settings['k'] = max( 1, min( 100, (int) $settings['k'] ) );
		return $settings;
	}

	/**
	 * Whether wp-config.php sets the key.
	 */
	public static function key_in_config() {
		return defined( 'RELATED_HEADLINES_API_KEY' ) && '' !== (string) RELATED_HEADLINES_API_KEY;
	}

	/**
	 * Registers the option with its sanitizer.
	 */
	public function register_setting() {
		register_setting(
			self::GROUP,
			self::OPTION,
			array(
				'type'              => 'object',
				'sanitize_callback' => array( $this, 'sanitize' ),
				'default'           => self::DEFAULTS,
				'show_in_rest'      => false,
			)
		);
		add_settings_section( 'related_headlines_service', __( 'Service', 'related-headlines' ), array( $this, 'service_intro' ), self::PAGE );
		add_settings_field( 'related_headlines_service_url', __( 'Service URL', 'related-headlines' ), array( $this, 'field_service_url' ), self::PAGE, 'related_headlines_service', array( 'label_for' => 'related_headlines_service_url' ) );
		add_settings_field( 'related_headlines_api_key', __( 'API key', 'related-headlines' ), array( $this, 'field_api_key' ), self::PAGE, 'related_headlines_service', array( 'label_for' => 'related_headlines_api_key' ) );
		add_settings_section( 'related_headlines_block', __( 'Block', 'related-headlines' ), '__return_false', self::PAGE );
		add_settings_field( 'related_headlines_k', __( 'Number of items', 'related-headlines' ), array( $this, 'field_k' ), self::PAGE, 'related_headlines_block', array( 'label_for' => 'related_headlines_k' ) );
		add_settings_field( 'related_headlines_title', __( 'Title', 'related-headlines' ), array( $this, 'field_title' ), self::PAGE, 'related_headlines_block', array( 'label_for' => 'related_headlines_title' ) );
	}

	/**
	 * Cleans a submitted form (sanitizing early); a value that does not pass keeps the stored one.
	 * (options.php has already unslashed the input.)
	 *
	 * @param mixed $input The submitted option.
	 * @return array
	 */
	public function sanitize( $input ) {
		$old   = get_option( self::OPTION, array() );
		$old   = array_merge( self::DEFAULTS, is_array( $old ) ? $old : array() );
		$input = is_array( $input ) ? $input : array();
		$clean = $old;

		if ( isset( $input['service_url'] ) ) {
			$typed = trim( sanitize_text_field( (string) $input['service_url'] ) );
			$url   = Service_Client::normalize_base_url( esc_url_raw( $typed, array( 'http', 'https' ) ) );
			if ( '' === $typed || '' !== $url ) {
				$clean['service_url'] = $url;
			} else {
				add_settings_error( self::OPTION, 'service_url', __( 'The service URL must be an http or https URL; the previous one was kept.', 'related-headlines' ) );
			}
		}

		if ( ! empty( $input['api_key_clear'] ) ) {
			$clean['api_key'] = '';
		} elseif ( isset( $input['api_key'] ) ) {
			$key = preg_replace( '/[\s\x00-\x1F\x7F]+/', '', (string) $input['api_key'] );
			if ( '' !== $key ) { // Blank: keep the stored key.
				$clean['api_key'] = substr( $key, 0, 512 );
			}
		}

		if ( isset( $input['k'] ) ) {
			$clean['k'] = max( 1, min( 100, absint( $input['k'] ) ) );
		}
		if ( isset( $input['title'] ) ) {
			$clean['title'] = Article_Mapper::cut( sanitize_text_field( (string) $input['title'] ), 200 );
		}
		return array_intersect_key( $clean, self::DEFAULTS );
	}

	/**
	 * Adds Settings > Related headlines.
	 */
	public function add_page() {
		add_options_page(
			__( 'Related headlines', 'related-headlines' ),
			__( 'Related headlines', 'related-headlines' ),
			'manage_options',
			self::PAGE,
			array( $this, 'render_page' )
		);
	}

	/**
	 * A Settings link on the Plugins screen.
	 *
	 * @param array $links The plugin's links.
	 */
	public function action_links( $links ) {
		$url = admin_url( 'options-general.php?page=' . self::PAGE );
		array_unshift( $links, '<a href="' . esc_url( $url ) . '">' . esc_html__( 'Settings', 'related-headlines' ) . '</a>' );
		return $links;
	}

	/**
	 * The settings page.
	 */
	public function render_page() {
		if ( ! current_user_can( 'manage_options' ) ) {
			wp_die( esc_html__( 'Sorry, you are not allowed to manage these settings.', 'related-headlines' ), 403 );
		}
		?>
		<div class="wrap">
			<h1><?php echo esc_html( get_admin_page_title() ); ?></h1>
			<form action="<?php echo esc_url( admin_url( 'options.php' ) ); ?>" method="post">
				<?php
				settings_fields( self::GROUP );
				do_settings_sections( self::PAGE );
				submit_button();
				?>
			</form>
			<?php Backfill::render_section(); ?>
		</div>
		<?php
	}

	/**
	 * The service section's introduction: whether the service answers.
	 */
	public function service_intro() {
		$settings = self::get();
		echo '<p>' . esc_html__( 'Published posts are sent to this related-headlines service; the block and the [related_headlines] shortcode show its similar stories.', 'related-headlines' ) . '</p>';
		if ( '' === $settings['service_url'] ) {
			return;
		}
		$health = Plugin::client()->health();
		if ( null === $health ) {
			echo '<p class="notice notice-warning inline">' . esc_html__( 'The service does not answer at this URL.', 'related-headlines' ) . '</p>';
			return;
		}
		$status   = isset( $health['status'] ) && is_scalar( $health['status'] ) ? (string) $health['status'] : '?';
		$articles = isset( $health['articles'] ) && is_numeric( $health['articles'] ) ? (int) $health['articles'] : 0;
		printf(
			'<p class="notice notice-%1$s inline">%2$s</p>',
			'ok' === $status ? 'success' : 'warning',
			esc_html(
				sprintf(
					/* translators: 1: the service's status (ok), 2: number of stored articles. */
					__( 'The service answers: status %1$s, %2$s articles stored.', 'related-headlines' ),
					$status,
					number_format_i18n( $articles )
				)
			)
		);
	}

	/**
	 * The service URL field.
	 */
	public function field_service_url() {
		$settings = self::get();
		printf(
			'<input type="url" class="regular-text code" id="related_headlines_service_url" name="%1$s[service_url]" value="%2$s" placeholder="https://related.example.com">',
			esc_attr( self::OPTION ),
			esc_attr( $settings['service_url'] )
		);
		echo '<p class="description">' . esc_html__( 'Where the service runs (the URL its demo page has), without /v1.', 'related-headlines' ) . '</p>';
	}

	/**
	 * The API key field: always empty (the key is never printed), masked, with whether one is stored.
	 */
	public function field_api_key() {
		if ( self::key_in_config() ) {
			echo '<input type="password" class="regular-text" id="related_headlines_api_key" value="" placeholder="&#8226;&#8226;&#8226;&#8226;&#8226;&#8226;&#8226;&#8226;" disabled>';
			echo '<p class="description">' . esc_html__( 'Set in wp-config.php (RELATED_HEADLINES_API_KEY).', 'related-headlines' ) . '</p>';
			return;
		}
		$stored = '' !== self::get()['api_key'];
		printf(
			'<input type="password" class="regular-text" id="related_headlines_api_key" name="%1$s[api_key]" value="" autocomplete="new-password" placeholder="%2$s">',
			esc_attr( self::OPTION ),
			$stored ? '&#8226;&#8226;&#8226;&#8226;&#8226;&#8226;&#8226;&#8226;' : ''
		);
		echo '<p class="description">' . esc_html(
			$stored
				? __( 'A key is stored. Leave the field blank to keep it, or type a new one.', 'related-headlines' )
				: __( 'A key of the service\'s API_KEYS (needed to send posts; the block needs none).', 'related-headlines' )
		) . '</p>';
		if ( $stored ) {
			printf(
				'<p><label><input type="checkbox" name="%1$s[api_key_clear]" value="1"> %2$s</label></p>',
				esc_attr( self::OPTION ),
				esc_html__( 'Remove the stored key', 'related-headlines' )
			);
		}
	}

	/**
	 * The number of items field.
	 */
	public function field_k() {
		printf(
			'<input type="number" class="small-text" id="related_headlines_k" name="%1$s[k]" value="%2$s" min="1" max="100" step="1">',
			esc_attr( self::OPTION ),
			esc_attr( (string) self::get()['k'] )
		);
		echo '<p class="description">' . esc_html__( 'Items in a block, 1-100 (a block or shortcode may ask for another number: k="3").', 'related-headlines' ) . '</p>';
	}

	/**
	 * The title field.
	 */
	public function field_title() {
		printf(
			'<input type="text" class="regular-text" id="related_headlines_title" name="%1$s[title]" value="%2$s" placeholder="%3$s">',
			esc_attr( self::OPTION ),
			esc_attr( self::get()['title'] ),
			esc_attr__( 'Similar articles', 'related-headlines' )
		);
		echo '<p class="description">' . esc_html__( 'The block\'s heading; blank: مقالات مشابهة in Arabic, Similar articles in English, by the block\'s language.', 'related-headlines' ) . '</p>';
	}
}
